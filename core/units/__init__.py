"""Administrative units: the tree 市 → 县区 → 乡镇街道 → 村社区 → 网格."""
