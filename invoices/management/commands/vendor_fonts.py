"""Reproduce static/vendor/fonts/ from npm's @fontsource packages.

A developer tool (not run by `make setup`): it needs npm and the network.
The output is deterministic, so running it twice with the same version
changes nothing, and a diff after an update shows exactly what moved.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

DEFAULT_VERSION = "5.3.0"


@dataclass(frozen=True)
class Package:
    name: str  # @fontsource/<name>
    weights: tuple[int, ...]
    # The subsets to copy; None means every numbered subset ([0], [1], …),
    # which is how the CJK packages slice their thousands of glyphs.
    subsets: tuple[str, ...] | None


# In the order of the PDF's font stack: Noto Sans first (the family every
# stack starts with, see invoices/pdf_fonts.py), then one family per script.
# The script packages' own latin subsets duplicate Noto Sans, so only their
# script is copied. CJK is regular only: bold would double its 7 MB, and a
# bold run is drawn with the regular glyphs, emboldened.
PACKAGES = (
    Package(
        "noto-sans",
        (400, 700),
        ("latin", "latin-ext", "greek", "greek-ext", "cyrillic", "cyrillic-ext", "vietnamese"),
    ),
    Package("noto-sans-arabic", (400, 700), ("arabic",)),
    Package("noto-sans-hebrew", (400, 700), ("hebrew",)),
    Package("noto-sans-devanagari", (400, 700), ("devanagari",)),
    Package("noto-sans-thai", (400, 700), ("thai",)),
    Package("noto-sans-jp", (400,), None),
    Package("noto-sans-kr", (400,), None),
    Package("noto-sans-sc", (400,), None),
)

CSS_HEADER = """\
/* Noto Sans from @fontsource/*@{version} (OFL-1.1, see LICENSE and README.md).
   Written by `manage.py vendor_fonts --version {version}`: do not edit by hand.
   The browser fetches only the files whose unicode-range a page uses; the
   invoice PDF loads only the faces its text needs (invoices/pdf_fonts.py). */
"""


@dataclass(frozen=True)
class Face:
    family: str
    weight: int
    subset: str
    file: str  # the .woff2 file name
    unicode_range: str  # as the package's CSS writes it

    def sort_key(self) -> tuple[int, str, int]:
        # Numbered subsets in numeric order ([2] before [10]); named ones by name.
        number = int(self.subset) if self.subset.isdigit() else -1
        return (number, self.subset, self.weight)

    def css(self) -> str:
        return (
            "@font-face {\n"
            f'  font-family: "{self.family}";\n'
            "  font-style: normal;\n"
            f"  font-weight: {self.weight};\n"
            "  font-display: swap;\n"
            f'  src: url({self.file}) format("woff2");\n'
            f"  unicode-range: {self.unicode_range};\n"
            "}\n"
        )


class Command(BaseCommand):
    help = (
        "Download the Noto Sans @fontsource packages with `npm pack` and write "
        "static/vendor/fonts/ from them: the chosen .woff2 files, fonts.css (one "
        "@font-face per file, with the package's unicode-range) and LICENSE. "
        "Replaces the directory's fonts; keeps README.md. Needs npm and the network."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Our --version (the fonts') replaces Django's (which prints Django's).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--version",
            dest="font_version",
            default=DEFAULT_VERSION,
            help=f"The @fontsource packages' version (default {DEFAULT_VERSION}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Download and report what would be written, and write nothing.",
        )

    def handle(self, *args: Any, font_version: str, dry_run: bool, **options: Any) -> None:
        target = Path(settings.BASE_DIR) / "static" / "vendor" / "fonts"
        with tempfile.TemporaryDirectory(prefix="vendor-fonts-") as scratch:
            # Everything is downloaded before anything is written, so a failed
            # download leaves the vendored set as it was.
            faces: list[Face] = []
            sources: dict[str, Path] = {}  # file name -> its path in the package
            licenses: dict[str, str] = {}
            for package in PACKAGES:
                root = _npm_pack(package.name, font_version, Path(scratch))
                found = _faces(package, root)
                faces.extend(sorted(found, key=Face.sort_key))  # packages in PACKAGES order
                sources.update({face.file: root / "files" / face.file for face in found})
                licenses[package.name] = (root / "LICENSE").read_text()
                files = len({face.file for face in found})
                self.stdout.write(f"@fontsource/{package.name}@{font_version}: {files} files")
            size = sum(path.stat().st_size for path in sources.values())
            if dry_run:
                self.stdout.write(f"Dry run: would write {len(faces)} faces, {size:,} bytes.")
                return
            target.mkdir(parents=True, exist_ok=True)
            # Start clean, so a subset dropped upstream does not linger here.
            for old in target.glob("*.woff2"):
                old.unlink()
            for name, path in sorted(sources.items()):
                shutil.copyfile(path, target / name)
            css = CSS_HEADER.format(version=font_version) + "".join(
                "\n" + face.css() for face in faces
            )
            (target / "fonts.css").write_text(css)
            (target / "LICENSE").write_text(_license(licenses))
        self.stdout.write(f"Wrote {len(faces)} faces ({size:,} bytes of woff2) to {target}")


def _npm_pack(name: str, version: str, scratch: Path) -> Path:
    """The unpacked package's directory."""
    dest = scratch / name
    dest.mkdir()
    spec = f"@fontsource/{name}@{version}"
    try:
        result = subprocess.run(
            ["npm", "pack", spec, "--silent", "--pack-destination", str(dest)],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise CommandError(f"npm pack {spec} failed: {detail}") from exc
    tarball = dest / result.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        archive.extractall(dest, filter="data")
    return dest / "package"


def _faces(package: Package, root: Path) -> list[Face]:
    """The package's normal-style faces of the chosen weights and subsets,
    read from its <weight>.css (which lists every subset of that weight).
    Values are copied as the package writes them (unicode-range verbatim)."""
    faces = []
    for weight in package.weights:
        stylesheet = (root / f"{weight}.css").read_text()
        for block in re.findall(r"@font-face\s*\{([^}]*)\}", stylesheet):
            declarations = {
                name.strip().lower(): value.strip()
                for name, _, value in (d.partition(":") for d in block.split(";"))
                if value.strip()
            }
            match = re.search(r"\./files/([\w.-]+\.woff2)", declarations.get("src", ""))
            if not match or declarations.get("font-style") != "normal":
                raise CommandError(f"{package.name} {weight}.css: unexpected rule {block!r}")
            file = match.group(1)
            prefix, suffix = f"{package.name}-", f"-{weight}-normal.woff2"
            if not (file.startswith(prefix) and file.endswith(suffix)):
                raise CommandError(f"{package.name}: unexpected file name {file}")
            subset = file.removeprefix(prefix).removesuffix(suffix)
            wanted = subset.isdigit() if package.subsets is None else subset in package.subsets
            if wanted:
                faces.append(
                    Face(
                        family=declarations["font-family"].strip("'\""),
                        weight=weight,
                        subset=subset,
                        file=file,
                        unicode_range=declarations["unicode-range"],
                    )
                )
    if package.subsets is not None:
        missing = set(package.subsets) - {face.subset for face in faces}
        if missing:
            raise CommandError(f"{package.name}: no subset {sorted(missing)}")
    return faces


def _license(texts: dict[str, str]) -> str:
    """One OFL text with every package's copyright line: each package's
    LICENSE is its copyright line, a blank line, then the same OFL-1.1 text."""
    copyrights, bodies = [], set()
    for name, text in texts.items():
        first, _, body = text.partition("\n")
        copyrights.append(f"@fontsource/{name}: {first.strip()}")
        bodies.add(body.strip("\n"))
    if len(bodies) != 1:
        raise CommandError("the packages' LICENSE texts differ beyond their copyright line")
    return "\n".join(copyrights) + "\n\n" + bodies.pop() + "\n"
