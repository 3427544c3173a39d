"""dyntools' toolchain: the pragma stage and compiler driver, the linker, and dynld."""

__version__ = "0.1.0"
