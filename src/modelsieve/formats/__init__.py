"""Format families, each detected by content and analysed without execution."""
