"""InterMask: text-to-two-person-interaction generation with masked token modelling."""
from intermask.errors import InterMaskError

__version__ = "0.1.0"
__all__ = ["InterMaskError", "__version__"]
