"""The catalogue of 代办事项: what a township's party members handle for residents, with the
materials each needs and its time limit in working days (办结时限).

Each township keeps its own catalogue, edited by whoever holds ``red_proxy.catalogue``
there (township and county admins). :data:`DEFAULT_ITEMS` is the common list (after
卢龙县's handbook of 申请条件、材料、流程、收费标准、办结时限, domain.md §3.4), which an
admin loads with one step (:func:`load_defaults`) and then edits. Orders copy the item's
name, time limit and flags when placed, so editing an item never changes an order.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import Session, col, select

from core import Actor, Kernel, utcnow

from .access import CATALOGUE
from .errors import ProxyError
from .inputs import Line, Required, RowId, clean_text
from .models import Item

CATEGORIES: dict[str, str] = {
    "social_security": "社保医保",
    "pension": "养老服务",
    "certificate": "证明开具",
    "subsidy": "补贴申领",
    "disability": "残疾人服务",
    "property": "不动产·宅基地",
    "household": "户籍证照",
    "payment": "代缴代购",
    "other": "其他",
}
Category = Literal[
    "social_security",
    "pension",
    "certificate",
    "subsidy",
    "disability",
    "property",
    "household",
    "payment",
    "other",
]
MAX_LIMIT_DAYS = 60
NOT_FOUND = "代办事项不存在 / no such item in this township"


def _clean_materials(values: list[str]) -> list[str]:
    cleaned = [clean_text(v) for v in values]
    if any(not v for v in cleaned):
        raise ValueError("材料名称不能为空 / a material's name cannot be empty")
    if len(set(cleaned)) != len(cleaned):
        raise ValueError("材料重复 / a material is listed twice")
    return cleaned


Material = Annotated[str, Field(max_length=100)]


class ItemIn(BaseModel):
    """A catalogue item as an admin writes it (the API's body and the page's form)."""

    name: Required = Field(max_length=100, title="事项名称")
    category: Category = Field(title="类别")
    materials: Annotated[list[Material], AfterValidator(_clean_materials)] = Field(
        default_factory=list, max_length=20, title="所需材料"
    )
    time_limit_days: int = Field(ge=1, le=MAX_LIMIT_DAYS, title="办结时限（工作日）")
    department: Line = Field("", max_length=100, title="受理部门")
    fee: Line = Field("免费", max_length=100, title="收费标准")
    description: Line = Field("", max_length=500, title="说明")
    needs_authorization: bool = Field(True, title="须委托书")
    sensitive: bool = Field(False, title="涉及隐私（公示时不显示事项名称）")
    active: bool = Field(True, title="可点单")
    sort: int = Field(0, ge=0, le=9999, title="排序")


class ItemUpdate(ItemIn):
    """An edit: the whole item as it should be, with the version the editor saw."""

    version: RowId = Field(title="所见版本")


DEFAULT_ITEMS: tuple[ItemIn, ...] = (
    ItemIn(
        name="养老保险待遇资格认证",
        category="pension",
        materials=["身份证原件", "社会保障卡"],
        time_limit_days=3,
        department="县人力社保局（乡镇社保所）",
        description="行动不便的老人由代办员上门协助完成刷脸认证",
        needs_authorization=False,
        sort=10,
    ),
    ItemIn(
        name="城乡居民医保报销",
        category="social_security",
        materials=[
            "身份证复印件",
            "医保卡",
            "住院发票原件",
            "出院小结",
            "费用明细清单",
            "本人银行卡复印件",
        ],
        time_limit_days=15,
        department="县医疗保障局",
        sensitive=True,
        sort=20,
    ),
    ItemIn(
        name="残疾人证办理",
        category="disability",
        materials=["身份证", "户口簿", "近期免冠两寸照片2张", "二级以上医院诊断证明"],
        time_limit_days=20,
        department="县残疾人联合会",
        description="含残疾评定预约，评定须本人到场",
        sensitive=True,
        sort=30,
    ),
    ItemIn(
        name="城乡居民养老保险参保登记",
        category="pension",
        materials=["身份证", "户口簿"],
        time_limit_days=5,
        department="县人力社保局（乡镇社保所）",
        sort=40,
    ),
    ItemIn(
        name="高龄津贴申领",
        category="subsidy",
        materials=["身份证", "户口簿", "本人银行卡"],
        time_limit_days=10,
        department="乡镇民政办",
        sort=50,
    ),
    ItemIn(
        name="最低生活保障申请",
        category="subsidy",
        materials=["身份证", "户口簿", "家庭收入情况说明", "家庭经济状况核对授权书"],
        time_limit_days=30,
        department="乡镇民政办",
        sensitive=True,
        sort=60,
    ),
    ItemIn(
        name="户籍证明开具",
        category="certificate",
        materials=["户口簿", "身份证"],
        time_limit_days=2,
        department="辖区派出所",
        sort=70,
    ),
    ItemIn(
        name="社会保障卡补换",
        category="social_security",
        materials=["身份证", "近期免冠一寸照片"],
        time_limit_days=10,
        department="县人力社保局",
        sort=80,
    ),
    ItemIn(
        name="农房不动产登记",
        category="property",
        materials=["身份证", "户口簿", "宅基地批准文件", "房屋测绘报告"],
        time_limit_days=20,
        department="县不动产登记中心",
        fee="按规定收取登记费，由群众承担",
        sort=90,
    ),
    ItemIn(
        name="水电燃气费代缴",
        category="payment",
        materials=["缴费户号", "缴费金额（现金或转账）"],
        time_limit_days=2,
        department="供水、供电、燃气公司营业厅",
        needs_authorization=False,
        sort=100,
    ),
)


def may_edit(kernel: Kernel, actor: Actor, township_code: str) -> bool:
    """Whether ``actor`` keeps the catalogue of the township."""
    return kernel.allowed(actor, CATALOGUE, township_code)


def _require_editor(kernel: Kernel, actor: Actor, township_code: str) -> None:
    if not may_edit(kernel, actor, township_code):
        raise ProxyError(
            403, f"没有权限维护代办事项目录（需要 {CATALOGUE}）/ {CATALOGUE!r} required"
        )


def list_items(session: Session, township_code: str, *, active_only: bool = True) -> list[Item]:
    """The township's items, in their order (those open for 点单 only, by default)."""
    query = select(Item).where(col(Item.unit_code) == township_code)
    if active_only:
        query = query.where(col(Item.active).is_(True))
    return list(session.exec(query.order_by(col(Item.sort), col(Item.id))))


def get_item(session: Session, township_code: str, item_id: int) -> Item:
    """The item of the township's catalogue; 404 for another township's or an unknown one."""
    item = session.exec(
        select(Item).where(col(Item.id) == item_id, col(Item.unit_code) == township_code)
    ).first()
    if item is None:
        raise ProxyError(404, NOT_FOUND)
    return item


def _name_taken(session: Session, township_code: str, name: str, item_id: int | None) -> bool:
    query = select(Item.id).where(col(Item.unit_code) == township_code, col(Item.name) == name)
    if item_id is not None:
        query = query.where(col(Item.id) != item_id)
    return session.exec(query).first() is not None


def create_item(
    session: Session, kernel: Kernel, actor: Actor, township_code: str, body: ItemIn
) -> Item:
    """Add an item to the township's catalogue (409 naming ``name`` when it exists).

    The caller commits."""
    _require_editor(kernel, actor, township_code)
    if _name_taken(session, township_code, body.name, None):
        raise ProxyError(409, f"name: 已有事项「{body.name}」/ the item exists")
    now = utcnow()
    item = Item(
        unit_code=township_code,
        **body.model_dump(),
        updated_by=actor.label,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    return item


def update_item(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    township_code: str,
    item_id: int,
    body: ItemUpdate,
) -> Item:
    """Replace an item with ``body`` if ``body.version`` is the item's (409 otherwise: someone
    edited it since). The caller commits."""
    _require_editor(kernel, actor, township_code)
    item = get_item(session, township_code, item_id)
    if body.version != item.version:
        raise ProxyError(
            409,
            f"version: 该事项已被他人修改（当前版本 {item.version}），请刷新后重试 / stale version",
        )
    if _name_taken(session, township_code, body.name, item_id):
        raise ProxyError(409, f"name: 已有事项「{body.name}」/ the item exists")
    for name, value in body.model_dump(exclude={"version"}).items():
        setattr(item, name, value)
    item.version += 1
    item.updated_by = actor.label
    item.updated_at = utcnow()
    session.add(item)
    session.flush()
    return item


def load_defaults(session: Session, kernel: Kernel, actor: Actor, township_code: str) -> int:
    """Add the common items the township's catalogue lacks (by name); return how many.

    Running it again adds nothing. The caller commits."""
    _require_editor(kernel, actor, township_code)
    have = set(session.exec(select(Item.name).where(col(Item.unit_code) == township_code)))
    added = 0
    for default in DEFAULT_ITEMS:
        if default.name not in have:
            create_item(session, kernel, actor, township_code, default)
            added += 1
    return added


def item_view(item: Item) -> dict[str, object]:
    """An item as the API and the pages show it."""
    return {
        "id": item.id,
        "unit_code": item.unit_code,
        "name": item.name,
        "category": item.category,
        "category_label": CATEGORIES.get(item.category, item.category),
        "materials": list(item.materials),
        "time_limit_days": item.time_limit_days,
        "department": item.department,
        "fee": item.fee,
        "description": item.description,
        "needs_authorization": item.needs_authorization,
        "sensitive": item.sensitive,
        "active": item.active,
        "sort": item.sort,
        "version": item.version,
    }
