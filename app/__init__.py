"""PTA case service: case management for the Protection Transfer Arrangement."""
