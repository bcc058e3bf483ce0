"""Only for the C part of the SFU's forwarding path (sfu/_rtpwrite.c); everything else is in
pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("sfu._rtpwrite", ["sfu/_rtpwrite.c"],
                             extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter",
                                                 "-Wno-missing-field-initializers"])])
