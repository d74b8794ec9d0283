"""Server-side tools the model can call while a response runs."""
