"""Training programs written as PyTorch users write them, and the runner that compares them on torch and chainrule."""
