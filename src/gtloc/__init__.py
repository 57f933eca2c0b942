"""gtloc: when and where was this outdoor photo taken? An implementation of GT-Loc (ICCV 2025)."""

__version__ = "0.1.0"
