"""Plugin discovery and the reasons a plugin stays off."""

from __future__ import annotations

import pytest

from core import PluginManifest, hookimpl
from core.plugins.registry import PluginRegistry
from core.version import __version__
from tests.helpers import MenuPlugin, manifest

BUILTINS = {"knock_door", "tea_house", "red_proxy", "mobile_office"}


def test_builtins_load_through_entry_points_as_builtin() -> None:
    registry = PluginRegistry().load()
    for name in BUILTINS:
        info = registry.plugins[name]
        assert info.source == "builtin" and info.distribution == "sanmin"
        assert info.manifest is not None and info.manifest.name == name
    assert {p.name for p in registry.plugins.values() if p.essential} == {
        "home",
        "workbench",
        "identity",
        "accounts",
        "audit_log",
        "units",
        "plugin_admin",
        "settings",
        "forms",
        "workflows",
        "metrics",
        "events",
        "jobs",
        "archives",
        "tickets",
    }


def test_an_external_plugin_is_discovered_and_marked_external(write_distribution) -> None:
    write_distribution(
        {
            "sanmin_ext": "from core import PluginManifest\n"
            "PLUGIN = PluginManifest(name='ext', title='外部', version='2.0')\n"
        },
        {"ext": "sanmin_ext"},
        dist="sanmin-ext",
    )
    info = PluginRegistry().load().plugins["ext"]
    assert (info.source, info.distribution, info.version) == ("external", "sanmin-ext", "2.0")


BROKEN = {
    "sanmin_boom": "raise RuntimeError('no database driver')\n",
    "sanmin_typo": (
        "from core import PluginManifest, hookimpl\n"
        "PLUGIN = PluginManifest(name='typo', title='拼写', version='1.0')\n"
        "@hookimpl\ndef menu_link(township, request):\n    return []\n"
    ),
    "sanmin_badmeta": (
        "from core import PluginManifest\n"
        "PLUGIN = PluginManifest(name='badmeta', title='', version='one')\n"
    ),
    "sanmin_nometa": "X = 1\n",
    "sanmin_needy": (
        "from core import PluginManifest\n"
        "PLUGIN = PluginManifest(name='needy', title='依赖', version='1.0', "
        "depends_on=('absent',))\n"
    ),
    "sanmin_old": (
        "from core import PluginManifest\n"
        "PLUGIN = PluginManifest(name='old', title='旧', version='1.0', requires_core='<0.1')\n"
    ),
    "sanmin_misnamed": (
        "from core import PluginManifest\n"
        "PLUGIN = PluginManifest(name='other', title='错名', version='1.0')\n"
    ),
    "sanmin_badsig": (
        "from core import PluginManifest, hookimpl\n"
        "PLUGIN = PluginManifest(name='badsig', title='签名', version='1.0')\n"
        "@hookimpl\ndef menu_links(township, request, actor):\n    return []\n"
    ),
}
EXPECTED_REASONS = {
    "boom": "failed to import 'sanmin_boom': RuntimeError: no database driver",
    "typo": "implements unknown hook 'menu_link' (did you mean 'menu_links'?)",
    "badmeta": "bad manifest: title",
    "nometa": "has no manifest",
    "needy": "requires plugin 'absent' (not installed)",
    "old": f"requires core <0.1, but this is core {__version__}",
    "misnamed": "name 'other' differs from the entry-point name 'misnamed'",
    "badsig": "invalid hook implementation",
}


@pytest.fixture
def broken_plugins(write_distribution):  # type: ignore[no-untyped-def]
    entry_points = {name.removeprefix("sanmin_"): name for name in BROKEN}
    return write_distribution(BROKEN, entry_points, dist="sanmin-broken")


def test_each_broken_plugin_is_named_with_its_reason_and_the_rest_loads(broken_plugins) -> None:
    registry = PluginRegistry().load()
    for name, reason in EXPECTED_REASONS.items():
        assert name in registry.plugins_failed, name
        assert reason in registry.plugins_failed[name].error, registry.plugins_failed[name].error
        assert registry.pm.get_plugin(name) is None
    assert set(registry.plugins) >= BUILTINS


def test_broken_plugins_are_logged(broken_plugins, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("ERROR", logger="sanmin.plugins"):
        PluginRegistry().load()
    logged = caplog.text
    assert "Plugin 'typo' is off: implements unknown hook 'menu_link'" in logged
    assert "Plugin 'boom' is off" in logged


def test_a_dependency_that_failed_takes_its_dependants_with_it() -> None:
    base = MenuPlugin("base")
    base.PLUGIN = manifest("base", requires_core="<0")
    child = MenuPlugin("child")
    child.PLUGIN = manifest("child", depends_on=("base",))
    grandchild = MenuPlugin("grandchild")
    grandchild.PLUGIN = manifest("grandchild", depends_on=("child",))
    registry = PluginRegistry().load(
        discover=False, extra=[("base", base), ("child", child), ("grandchild", grandchild)]
    )
    assert "requires core" in registry.plugins_failed["base"].error
    assert "requires plugin 'base' (requires core" in registry.plugins_failed["child"].error
    assert "requires plugin 'child'" in registry.plugins_failed["grandchild"].error


def test_the_kill_switch_blocks_a_plugin_before_it_is_imported(
    monkeypatch, write_distribution
) -> None:  # type: ignore[no-untyped-def]
    write_distribution(
        {"sanmin_bomb": "raise SystemExit('must never be imported')\n"}, {"bomb": "sanmin_bomb"}
    )
    registry = PluginRegistry().load(disabled={"bomb", "red_proxy"})
    assert registry.plugins_failed["bomb"].error == "disabled by SANMIN_DISABLED_PLUGINS"
    assert registry.plugins_failed["red_proxy"].error == "disabled by SANMIN_DISABLED_PLUGINS"
    assert "red_proxy" not in registry.plugins


def test_load_plugins_restricts_discovery() -> None:
    registry = PluginRegistry().load(only=["tea_house"])
    assert "tea_house" in registry.plugins and "knock_door" not in registry.plugins


def test_a_name_cannot_be_taken_twice() -> None:
    registry = PluginRegistry().load(
        discover=False, extra=[("dup", MenuPlugin("dup")), ("dup", MenuPlugin("dup"))]
    )
    assert "dup" in registry.plugins
    assert "already taken" in registry.plugins_failed["dup"].error


@pytest.mark.parametrize(
    ("name", "reason"),
    [("Hello", "snake_case"), ("core", "reserved"), ("class", "keyword"), ("x", "snake_case")],
)
def test_manifest_names_are_checked(name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        PluginManifest(name=name, title="标题", version="1.0")


def test_optional_hooks_of_other_plugins_are_allowed() -> None:
    class Optional:
        PLUGIN = manifest("optional_user")

        @hookimpl(optionalhook=True)
        def other_plugin_hook(self) -> None:
            return None

    registry = PluginRegistry().load(discover=False, extra=[("optional_user", Optional())])
    assert "optional_user" in registry.plugins
