"""Photos: uploads and their quota, inspection and rendering with Pillow, signed URLs."""
