"""The archive's coded values and their labels: genders and 与户主关系.

A module of its own, importing nothing, so that the import's checking process (which loads
no database code) reads the same vocabulary as the tables and pages.
"""

from __future__ import annotations

GENDERS: dict[str, str] = {"male": "男", "female": "女"}
# 与户主关系, after GB/T 4761 家庭关系代码 grouped as household registers use them.
RELATIONS: dict[str, str] = {
    "head": "户主",
    "spouse": "配偶",
    "child": "子女",
    "child_in_law": "儿媳/女婿",
    "parent": "父母",
    "grandchild": "孙子女",
    "grandparent": "祖父母",
    "sibling": "兄弟姐妹",
    "other": "其他",
}
