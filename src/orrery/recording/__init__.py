"""Record and replay of every upstream call, in llama-stack's recording format."""
