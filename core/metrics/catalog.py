"""The metrics every loaded plugin declared (``register_metrics``), by plugin."""

from __future__ import annotations

from dataclasses import dataclass

from core.metrics.coverage import Coverage
from core.metrics.spec import Metric, MetricError, Source, check
from core.plugins.declarations import collect
from core.plugins.registry import PluginRegistry


class UnknownMetric(LookupError):
    """No such metric among the loaded plugins' declarations (answered 404)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"指标 {key} 不存在 / no such metric {key!r}")
        self.key = key


@dataclass(frozen=True, eq=False)
class Declared:
    """One plugin's metric, with its rows resolved (``source``; ``None`` for a ratio)."""

    plugin: str
    metric: Metric
    source: Source | None

    @property
    def key(self) -> str:
        """The metric's full name, ``{plugin}.{name}``: its key in ``metric_daily``."""
        return f"{self.plugin}.{self.metric.name}"


class MetricCatalog:
    """Declarations of ``register_metrics``, collected and checked once when the kernel is
    built; plus the per-snapshot cache of where each plugin's metrics count."""

    def __init__(
        self,
        by_plugin: dict[str, list[Metric]],
        declared: dict[str, dict[str, Declared]],
        registry: PluginRegistry | None = None,
    ) -> None:
        self.by_plugin = by_plugin
        self._declared = declared
        self._registry = registry
        self.coverage = Coverage()

    @classmethod
    def build(cls, registry: PluginRegistry) -> MetricCatalog:
        """Collect every plugin's metrics; a plugin with a bad declaration is taken out,
        with a reason that names the metric and the field."""
        declared: dict[str, dict[str, Declared]] = {}

        def check_plugin(plugin: str, items: list[Metric]) -> None:
            found: dict[str, Declared] = {}
            for metric in items:
                source = check(metric)
                if metric.name in found:
                    raise MetricError(f"duplicate metric {metric.name!r}")
                found[metric.name] = Declared(plugin, metric, source)
            for item in found.values():
                metric = item.metric
                for field in ("numerator", "denominator"):
                    ref = getattr(metric, field)
                    if ref is not None and (ref not in found or not found[ref].metric.additive):
                        raise MetricError(
                            f"metric {metric.name!r}: {field} {ref!r} is not an additive "
                            "metric of this plugin"
                        )
            declared[plugin] = found

        by_plugin = collect(registry, "register_metrics", Metric, check_plugin)
        return cls(by_plugin, {name: declared[name] for name in by_plugin}, registry)

    def _live(self, plugin: str) -> bool:
        """Whether the plugin is still loaded (a later start-up step may take it out)."""
        return self._registry is None or plugin in self._registry.plugins

    def all(self) -> list[Declared]:
        """Every loaded plugin's metrics, in plugin dependency order, then declaration order."""
        return [
            item
            for plugin, metrics in self._declared.items()
            if self._live(plugin)
            for item in metrics.values()
        ]

    def additive(self) -> list[Declared]:
        """The metrics kept in daily aggregates (``count`` and ``sum``)."""
        return [item for item in self.all() if item.metric.additive]

    def get(self, plugin: str, name: str) -> Declared:
        """One metric. :raises UnknownMetric: no loaded plugin declares it."""
        found = self._declared.get(plugin, {}).get(name) if self._live(plugin) else None
        if found is None:
            raise UnknownMetric(f"{plugin}.{name}")
        return found

    def dimension_title(self, item: Declared) -> str | None:
        """What splits the metric's figure (诉求类型), or ``None``: a ratio splits when both
        its terms declare a dimension."""
        parts = self.parts(item)
        if all(part.source is not None and part.source.dimension is not None for part in parts):
            return parts[0].metric.dimension_title
        return None

    def parts(self, item: Declared) -> tuple[Declared, ...]:
        """The additive metrics a value is made of: itself, or a ratio's two terms."""
        if item.metric.additive:
            return (item,)
        metric = item.metric
        assert metric.numerator is not None and metric.denominator is not None
        return (self.get(item.plugin, metric.numerator), self.get(item.plugin, metric.denominator))
