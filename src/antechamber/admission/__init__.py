"""Admission: may this caller join this room now, as whom, with which grants."""
