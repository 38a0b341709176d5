"""The demo county: units of 衢州市 with a few townships, villages and grids."""
