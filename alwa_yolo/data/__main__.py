"""Dataset converters CLI: ``python -m alwa_yolo.data {voc,coco} ...``.

Input problems (missing folders, malformed XML/JSON, unknown classes) end with one ``error: ...`` paragraph on
stderr and exit status 2, the argparse convention for bad usage, so scripts can tell them from crashes (status 1
with a traceback), which are bugs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from alwa_yolo.cli import Parser, run_cli
from alwa_yolo.data.voc import IMAGE_SETS


def build_parser() -> argparse.ArgumentParser:
    """The ``voc`` and ``coco`` sub-commands and their options."""
    parser = Parser(
        prog="python -m alwa_yolo.data",
        description="Convert local VOC / COCO annotations to the Ultralytics YOLO layout used by data/VOC.yaml and "
        "data/coco.yaml. Nothing is downloaded.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    voc = sub.add_parser("voc", help="VOCdevkit (VOC2007/VOC2012 XML) -> images/<split><year>, labels/<split><year>")
    voc.add_argument("--src", required=True, help="VOCdevkit folder holding VOC2007/, VOC2012/ (or one VOC<year>)")
    voc.add_argument("--dst", required=True, help="dataset root to write images/ and labels/ into")
    voc.add_argument(
        "--classes",
        default=None,
        help="class names defining the ids: a comma list (a,b,c) or a file with one name per line "
        "(default: the 20 VOC classes)",
    )
    difficult = voc.add_mutually_exclusive_group()
    difficult.add_argument(
        "--skip-difficult", dest="keep_difficult", action="store_false", help="drop <difficult>1 objects (default)"
    )
    difficult.add_argument("--keep-difficult", dest="keep_difficult", action="store_true", help="keep them")
    voc.set_defaults(keep_difficult=False)
    voc.add_argument(
        "--skip-unknown", action="store_true", help="drop and count objects whose class is not listed (default: error)"
    )
    voc.add_argument(
        "--splits",
        default=",".join(IMAGE_SETS),
        help=f"ImageSets/Main lists to convert when present (default: {','.join(IMAGE_SETS)})",
    )

    coco = sub.add_parser("coco", help="COCO instances_*.json -> labels/<split> (via Ultralytics' convert_coco)")
    coco.add_argument("--src", required=True, help="COCO 'annotations' folder, or one instances_*.json file")
    coco.add_argument("--dst", required=True, help="dataset root; labels/<split> is (re)written there")
    coco.add_argument(
        "--no-cls91to80",
        dest="cls91to80",
        action="store_false",
        help="write category_id - 1 instead of mapping the 91 COCO ids to the 80 classes",
    )
    return parser


def _run(args: argparse.Namespace) -> str:
    """Dispatch to the library and return the summary text."""
    if args.command == "voc":
        from alwa_yolo.data.voc import convert_voc, format_summary

        splits = [s.strip() for s in args.splits.split(",") if s.strip()]
        summary = convert_voc(
            args.src,
            args.dst,
            classes=args.classes,
            keep_difficult=args.keep_difficult,
            skip_unknown=args.skip_unknown,
            splits=splits,
        )
        return format_summary(summary)
    from alwa_yolo.data.coco import convert_coco, format_summary

    return format_summary(convert_coco(args.src, args.dst, cls91to80=args.cls91to80))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI: the summary on stdout, or one ``error:`` paragraph on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    run_cli(lambda: print(_run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
