"""The only layer that touches disk: model files, NetCDF, ``.npy`` draws, atomic writes.

Rule: everything else in mkba_sim is pure; reading and writing files happens here.
May import every other layer.
"""
