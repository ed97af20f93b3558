"""Stack rules: properties of the whole deployment, not of one resource."""
