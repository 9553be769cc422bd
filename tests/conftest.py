"""Test-session settings.

BLAS threads: the Monte Carlo tests multiply many small stacked matrices and QR-factorise Haar
samples; with two multi-threaded OpenBLAS pools competing for two cores (pytest plus a notebook
kernel, or a busy CI machine) these run many times slower than single-threaded.  Unless the caller
chose otherwise, the suite runs BLAS single-threaded (set before numpy is imported by the tests;
notebook kernels inherit it).
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
