"""gxm: Go eXperiment Matrix — cgo SDK survival and GC behaviour across Go x GOEXPERIMENT."""

__version__ = "0.1.0"
