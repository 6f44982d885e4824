"""What an import created, updated and skipped, and what it warns about."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("providers", "integrations", "features", "prompts")


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Report:
    dry_run: bool = False
    providers: Outcome = field(default_factory=Outcome)
    integrations: Outcome = field(default_factory=Outcome)
    features: Outcome = field(default_factory=Outcome)
    prompts: Outcome = field(default_factory=Outcome)

    def sections(self) -> list[tuple[str, Outcome]]:
        return [(kind, getattr(self, kind)) for kind in KINDS]

    @property
    def warnings(self) -> list[str]:
        return [w for _, o in self.sections() for w in o.warnings]

    def summary(self) -> str:
        parts = []
        for kind, o in self.sections():
            parts.append(
                f"{kind}: {len(o.created)} created, {len(o.updated)} updated, "
                f"{len(o.skipped)} skipped"
            )
        head = "Dry run, nothing was written. " if self.dry_run else ""
        return head + "; ".join(parts) + "."

    def lines(self) -> list[str]:
        out = [self.summary()]
        for kind, o in self.sections():
            for verb, items in (
                ("Created", o.created),
                ("Updated", o.updated),
                ("Skipped", o.skipped),
            ):
                out.extend(f"{verb} {kind[:-1]}: {item}" for item in items)
            out.extend(f"Warning ({kind[:-1]}): {w}" for w in o.warnings)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())
