"""Demos recorded elsewhere (robosuite / robomimic HDF5, LeRobot v3), imported as demoforge source demos."""
