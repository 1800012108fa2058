"""htr.batch.storage: the folders of `htr batch` on the local disk and on an fsspec filesystem (memory://, which
behaves as object storage does: no local paths, moves by copying); the S3 run is in tests/test_cluster.py."""
import os
import uuid

import pytest

from htr.batch.storage import Folder, temporary_name


@pytest.fixture(params=["local", "memory"])
def folder(request, tmp_path) -> Folder:
    if request.param == "local":
        return Folder.at(tmp_path / "root")
    return Folder.at(f"memory://htr-test-{uuid.uuid4().hex}/root")


def test_a_folder_lists_writes_and_moves_its_files(folder):
    assert not folder.exists() and folder.listing() == set()
    for name in ("b.png", "a/c.jpg", "a/.hidden.png", ".cache/d.png", "out/e.png", "a/z/f.pdf"):
        folder.write(name, b"data of " + name.encode())
    assert folder.is_folder()
    assert folder.files() == ["a/c.jpg", "a/z/f.pdf", "b.png", "out/e.png"]  # sorted, hidden names left out
    assert folder.files(skip=Folder.at(folder.url("out"))) == ["a/c.jpg", "a/z/f.pdf", "b.png"]
    assert folder.files(skip=folder) == folder.files()  # outputs beside the inputs: nothing to leave out
    assert folder.read_bytes("a/c.jpg") == b"data of a/c.jpg"

    folder.write_atomic("a/z/f.pdf", "replaced é", tag="t1")
    assert folder.read_bytes("a/z/f.pdf") == "replaced é".encode()
    assert folder.listing() == {"b.png", "a/c.jpg", "a/.hidden.png", ".cache/d.png", "out/e.png", "a/z/f.pdf"}

    tmp = temporary_name("a/g.txt", "t2")
    assert tmp == "a/.g.txt.t2.part"
    folder.write(tmp, "g")
    assert folder.glob("a/.*.t2.part") == [tmp] and folder.glob("a/.*.t3.part") == []
    folder.move(tmp, "a/g.txt")
    assert folder.read_bytes("a/g.txt") == b"g" and "a/.g.txt.t2.part" not in folder.listing()
    folder.remove("a/g.txt")
    folder.remove("a/g.txt")  # gone already: nothing to do
    assert "a/g.txt" not in folder.listing()
    assert folder.modified("b.png") > 0


def test_local_copy_is_the_file_itself_or_a_temporary_copy(folder):
    folder.write("scans/page 1.tif", b"tiff bytes")
    with folder.local_copy("scans/page 1.tif") as path:
        assert os.path.basename(path) == "page 1.tif"
        with open(path, "rb") as f:
            assert f.read() == b"tiff bytes"
    if folder.local:
        assert path == folder.path("scans/page 1.tif") == folder.url("scans/page 1.tif")
    else:
        assert not os.path.exists(path)  # the copy is removed after the block
        assert folder.url("scans/page 1.tif") == folder.location + "/scans/page 1.tif"


def test_a_location_fsspec_cannot_open_is_an_os_error():
    with pytest.raises(OSError, match="nosuch://bucket"):
        Folder.at("nosuch://bucket/scans").exists()
    assert Folder.at("relative/path").location == os.path.abspath("relative/path")
    assert Folder.at("s3://bucket/prefix/").location == "s3://bucket/prefix"
