"""HTTP surfaces: the app factory, township resolution, errors and the shared layout."""
