"""CDK constructs and stacks of the LLM endpoint."""
