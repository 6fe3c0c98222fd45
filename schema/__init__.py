"""The public contract: strawberry types, enums, inputs, error codes, and the SDL."""
