"""Every hook: documented with its exact signature, tested, and scoped as it should be."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core import hookimpl
from core.hookspecs import (
    INSTALLATION_HOOK_NAMES,
    TOWNSHIP_HOOK_NAMES,
    InstallationSpecs,
    TownshipSpecs,
)
from core.plugins.registry import PluginRegistry
from core.testing import Sanmin
from core.web.app import create_app
from tests import sample_plugin
from tests.helpers import MenuPlugin, manifest

ROOT = Path(__file__).resolve().parent.parent
ALL_SPECS = {
    **{n: getattr(InstallationSpecs, n) for n in INSTALLATION_HOOK_NAMES},
    **{n: getattr(TownshipSpecs, n) for n in TOWNSHIP_HOOK_NAMES},
}


def signature(name: str) -> str:
    params = [p for p in inspect.signature(ALL_SPECS[name]).parameters if p != "self"]
    return f"{name}({', '.join(params)})"


def test_every_hookspec_is_documented_with_its_exact_signature() -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `(\w+\([^)]*\))`", docs, flags=re.MULTILINE))
    assert documented == {signature(name) for name in ALL_SPECS}


def test_every_hookspec_has_a_test() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py"))
    missing = [name for name in ALL_SPECS if f"def test_hook_{name}(" not in sources]
    assert missing == []


def test_every_hookspec_has_a_docstring_with_its_township_scope() -> None:
    for name, spec in ALL_SPECS.items():
        assert spec.__doc__ and "Township scope" in spec.__doc__, name


def test_township_hooks_are_neither_historic_nor_firstresult() -> None:
    pm = PluginRegistry().load(discover=False).pm
    for name in TOWNSHIP_HOOK_NAMES:
        opts = getattr(pm.hook, name).spec.opts
        assert not opts["historic"] and not opts["firstresult"], name


def test_the_township_relay_refuses_installation_hooks(sanmin) -> None:
    hooks = sanmin.kernel.hooks_for(sanmin.township())
    with pytest.raises(AttributeError, match="not a township-scoped hook"):
        _ = hooks.register_api_routes


# -- a disabled plugin's implementation never runs, for every township hook ------------------


class Spy:
    """Implements every township hook and records each call."""

    def __init__(self, name: str) -> None:
        self.PLUGIN = manifest(name)
        self.calls: list[str] = []
        for hook in TOWNSHIP_HOOK_NAMES:
            params = [
                p for p in inspect.signature(getattr(TownshipSpecs, hook)).parameters if p != "self"
            ]
            setattr(self, hook, self._recorder(hook, params))

    def _recorder(self, hook: str, params: list[str]):  # type: ignore[no-untyped-def]
        def record(**kwargs):  # type: ignore[no-untyped-def]
            self.calls.append(hook)
            return []

        record.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY) for p in params]
        )
        record.__name__ = hook
        return hookimpl(specname=hook)(record)


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("spy_on", Spy("spy_on")), ("spy_off", Spy("spy_off")), ("sample", sample_plugin)]


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


def test_a_disabled_plugin_never_runs_for_any_township_hook(sanmin) -> None:
    on, off = sanmin.township(), sanmin.township()
    sanmin.enable("spy_on", on)
    sanmin.enable("spy_off", off)
    spy_on = sanmin.kernel.pm.get_plugin("spy_on")
    spy_off = sanmin.kernel.pm.get_plugin("spy_off")
    hooks = sanmin.kernel.hooks_for(on.code)
    for hook in sorted(TOWNSHIP_HOOK_NAMES):
        params = [
            p for p in inspect.signature(getattr(TownshipSpecs, hook)).parameters if p != "self"
        ]
        for result in getattr(hooks, hook)(**dict.fromkeys(params)) or ():
            if inspect.iscoroutine(result):  # an async implementation of the core: not run
                result.close()
    assert sorted(spy_on.calls) == sorted(TOWNSHIP_HOOK_NAMES)
    assert spy_off.calls == []


# -- one test per hook ---------------------------------------------------------------------


def test_hook_register_api_routes(sanmin) -> None:
    on, off = sanmin.township("开启镇"), sanmin.township("关闭镇")
    sanmin.enable("sample", on)
    village = sanmin.unit(on.code[:9] + "001")
    answer = sanmin.client.get("/api/v1/p/sample/echo", params={"unit": village.code})
    assert answer.json() == {"township": on.code, "unit": village.code}
    header = sanmin.client.get("/api/v1/p/sample/echo", headers={"X-Sanmin-Unit": on.code})
    assert header.status_code == 200
    refused = sanmin.client.get("/api/v1/p/sample/echo", params={"unit": off.code})
    assert refused.status_code == 404
    body = refused.json()
    assert (body["plugin"], body["unit"]) == ("sample", off.code)
    assert "样例" in body["detail"] and "关闭镇" in body["detail"]
    # Without a unit, the request is about the actor's home unit.
    local = sanmin.client_as("township_admin", on).get("/api/v1/p/sample/echo")
    assert local.json() == {"township": on.code, "unit": on.code}
    schema = sanmin.client.get("/openapi.json").json()
    assert schema["paths"]["/api/v1/p/sample/echo"]["get"]["tags"] == ["sample"]


def test_hook_register_page_routes(sanmin) -> None:
    on, off = sanmin.township("开启镇"), sanmin.township("关闭镇")
    sanmin.enable("sample", on)
    html = {"Accept": "text/html"}
    page = sanmin.client.get("/p/sample/", params={"unit": on.code}, headers=html)
    assert page.status_code == 200 and "你好，开启镇" in page.text
    refused = sanmin.client.get("/p/sample/", params={"unit": off.code}, headers=html)
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("text/html")
    assert "插件「样例」(sample) 未在 关闭镇" in refused.text
    unknown = sanmin.client.get("/p/nothing_here/", headers=html)
    assert unknown.status_code == 404 and "nothing_here" in unknown.text


def test_hook_register_templates(sanmin) -> None:
    township = sanmin.township()
    sanmin.enable("sample", township)
    page = sanmin.client.get("/p/sample/", params={"unit": township.code})
    assert 'id="greeting"' in page.text
    assert "OVERRIDDEN" not in page.text  # a plugin cannot replace core/base.html
    assert "<footer>" in page.text


def test_hook_register_static(sanmin) -> None:
    css = sanmin.client.get("/static/plugins/sample/sample.css")
    assert css.status_code == 200 and "#123456" in css.text


def test_hook_startup(sanmin) -> None:
    assert sample_plugin.STARTED[-1] is sanmin.kernel


def test_hook_menu_links(sanmin) -> None:
    on, off = sanmin.township(), sanmin.township()
    sanmin.enable("sample", on)
    sanmin.enable("spy_on", off)
    on_page = sanmin.client.get("/", params={"unit": on.code}).text
    off_page = sanmin.client.get("/", params={"unit": off.code}).text
    assert f'href="/p/sample/?unit={on.code}"' in on_page
    assert "/p/sample/" not in off_page
    assert 'href="/admin/plugins"' in on_page and 'href="/admin/plugins"' in off_page


def test_a_failing_menu_link_is_logged_and_skipped(sanmin_settings, caplog) -> None:  # type: ignore[no-untyped-def]
    class Broken(MenuPlugin):
        @hookimpl
        def menu_links(self, township, request):  # type: ignore[no-untyped-def]
            raise RuntimeError("menu exploded")

    class Async(MenuPlugin):
        @hookimpl
        async def menu_links(self, township, request):  # type: ignore[no-untyped-def]
            return [{"href": "/async", "label": "异步"}]

    registry = PluginRegistry().load(
        discover=False,
        extra=[("broken", Broken("broken", True)), ("asyncy", Async("asyncy", True))],
    )
    app = create_app(sanmin_settings, registry=registry)
    with TestClient(app) as client, caplog.at_level("ERROR"):
        harness = Sanmin(app, client)
        township = harness.township()
        page = harness.client.get("/", params={"unit": township.code})
    assert page.status_code == 200
    assert 'href="/async"' in page.text
    assert "menu exploded" in caplog.text and "plugin=broken" in caplog.text


def test_a_plugin_whose_declarations_fail_is_off_and_the_app_serves(sanmin_settings) -> None:  # type: ignore[no-untyped-def]
    class BadTemplates:
        PLUGIN = manifest("bad_templates")

        @hookimpl
        def register_templates(self) -> str:
            return "/no/such/folder"

    class BadRoutes:
        PLUGIN = manifest("bad_routes")

        @hookimpl
        def register_api_routes(self) -> object:
            raise ImportError("fastapi extra missing")

    class StartupFails:
        PLUGIN = manifest("startup_fails")

        @hookimpl
        def startup(self, kernel) -> None:  # type: ignore[no-untyped-def]
            raise RuntimeError("bad config")

    registry = PluginRegistry().load(
        discover=False, extra=[("bad_templates", BadTemplates()), ("bad_routes", BadRoutes())]
    )
    app = create_app(sanmin_settings, registry=registry)
    failed = app.state.kernel.registry.plugins_failed
    assert "not a directory" in failed["bad_templates"].error
    assert "fastapi extra missing" in failed["bad_routes"].error
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        admin = Sanmin(app, client).client.get("/admin/plugins").text
        assert "bad_templates" in admin and "not a directory" in admin

    registry = PluginRegistry().load(discover=False, extra=[("startup_fails", StartupFails())])
    app = create_app(sanmin_settings, registry=registry)
    with TestClient(app) as client:  # a plugin's failing start-up takes only that plugin out
        assert client.get("/healthz").status_code == 200
    error = registry.plugins_failed["startup_fails"].error
    assert "'startup_fails' failed in hook 'startup'" in error and "bad config" in error


def test_a_menu_link_of_the_wrong_type_is_logged_with_its_plugin(sanmin_settings, caplog) -> None:  # type: ignore[no-untyped-def]
    class WrongType(MenuPlugin):
        @hookimpl
        def menu_links(self, township, request):  # type: ignore[no-untyped-def]
            return 42

    registry = PluginRegistry().load(discover=False, extra=[("wrong", WrongType("wrong", True))])
    app = create_app(sanmin_settings, registry=registry)
    with TestClient(app) as client, caplog.at_level("ERROR"):
        harness = Sanmin(app, client)
        township = harness.township()
        page = harness.client.get("/", params={"unit": township.code})
        missing = harness.client.get(
            "/p/nothing/", params={"unit": township.code}, headers={"Accept": "text/html"}
        )
    assert page.status_code == 200
    assert missing.status_code == 404 and "<footer>" in missing.text  # error pages render too
    assert "plugin=wrong" in caplog.text and "must return a list" in caplog.text
