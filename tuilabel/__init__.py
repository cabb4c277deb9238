"""tuilabel: Amazon SageMaker Ground Truth labeling jobs in a terminal."""

__version__ = "0.1.0"
