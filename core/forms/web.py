"""The dependency both the forms API and the pages use to find the form a path names."""

from __future__ import annotations

from fastapi import HTTPException, Request

from core.forms.spec import FormSpec


async def form_in_path(request: Request) -> FormSpec:
    """The form named by the ``plugin`` and ``form`` path parameters; 404 naming them when
    the plugin is not loaded or declares no such form."""
    plugin = request.path_params.get("plugin", "")
    name = request.path_params.get("form", "")
    kernel = request.app.state.kernel
    spec = kernel.forms.get(plugin, name) if plugin in kernel.registry.plugins else None
    if spec is None:
        raise HTTPException(
            404, f"插件 {plugin} 没有表单 {name} / plugin {plugin!r} has no form {name!r}"
        )
    return spec
