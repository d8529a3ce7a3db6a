"""hexcri's domain: the CRI's vocabulary, its rules and its use cases, free of infrastructure."""
