"""A small repository in every indexed language, with imports, a cycle, inheritance through a
re-export and an alias, and composition: the diagrams' exact answers are known by construction."""

from __future__ import annotations

import textwrap
from pathlib import Path

FILES = {
    "shop/__init__.py": "from .models import Order\n",
    "shop/models.py": """
        from dataclasses import dataclass

        from shop.money import Money


        @dataclass
        class Item:
            price: Money


        class Order:
            def __init__(self, items: list[Item]) -> None:
                self.items = items
                self.total = Money(0)
        """,
    "shop/money.py": """
        import shop.rates


        class Money:
            amount: int = 0


        Cash = Money
        """,
    "shop/rates.py": """
        from . import money  # a cycle: money -> rates -> money


        def rate() -> int:
            return 1
        """,
    "shop/api/__init__.py": "",
    "shop/api/views.py": """
        import json

        from .. import Order
        from ..money import Cash
        from shop import rates


        class Base:
            pass


        class OrderView(Base):
            def __init__(self, order: Order) -> None:
                self.order = order


        class RefundView(OrderView):
            payment: Cash
        """,
    "web/app.ts": 'import { a } from "./util";\nimport React from "react";\nexport class App extends Base {}\n',
    "web/util.ts": 'export const a = require("./base.js");\n',
    "web/base.ts": "export class Base {}\n",
    "svc/go.mod": "module example.com/svc\n",
    "svc/main.go": 'package main\n\nimport (\n\t"fmt"\n\t"example.com/svc/store"\n)\n\nfunc main() { fmt.Println(store.Get()) }\n',
    "svc/store/store.go": "package store\n\nfunc Get() int { return 1 }\n",
    "crate/src/lib.rs": "mod parse;\nuse crate::parse::Token;\nuse std::io;\n",
    "crate/src/parse.rs": "pub struct Token;\n",
    "java/com/acme/Shape.java": "package com.acme;\npublic class Shape {}\n",
    "java/com/acme/Circle.java": "package com.acme;\nimport com.acme.Shape;\npublic class Circle extends Shape {}\n",
    "native/util.h": "int util(void);\n",
    "native/main.c": '#include "util.h"\n#include <stdio.h>\nint main(void) { return util(); }\n',
}


def make_repo(root: Path) -> Path:
    for path, text in FILES.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))
    return root
