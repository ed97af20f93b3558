"""Network exposure: the edge proxy is the only way in."""
