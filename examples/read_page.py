"""Read a page with the library call and print each line with its confidence (run from the repository root):

    python examples/read_page.py examples/letter.jpg
"""
import sys

from htr import read_page

page = read_page(sys.argv[1] if len(sys.argv) > 1 else "examples/letter.jpg")
for block in page.blocks:
    for line in block.lines:
        print(f"{block.id}/{line.id}  {line.confidence:.2f}  {line.text}")
    print()
