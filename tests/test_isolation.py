"""The test run keeps to its own folders: settings, state, library and caches are never the user's."""

from __future__ import annotations

from pathlib import Path

from irstudio import paths
from tests.conftest import TEST_HOME


def test_app_settings_are_written_inside_the_test_home(qapp) -> None:
    from irstudio.gui.settings import Settings, default_store

    store = default_store()
    assert Path(store.fileName()).is_relative_to(TEST_HOME)
    Settings(store).add_recent(Path("/tmp/not-the-users.png"))
    store.sync()
    assert Path(store.fileName()).is_file()


def test_state_library_and_cache_folders_are_not_the_users() -> None:
    assert Path.home().is_relative_to(TEST_HOME)  # the home itself, for libraries that write there
    real_home = Path.home()
    for folder in (paths.user_state_dir(), paths.user_library_dir()):
        assert not folder.is_relative_to(real_home / ".local")
        assert not folder.is_relative_to(real_home / ".config")
    import platformdirs

    assert Path(platformdirs.user_cache_dir("IR Studio")).is_relative_to(TEST_HOME)
    assert Path(platformdirs.user_config_dir("IR Studio")).is_relative_to(TEST_HOME)
