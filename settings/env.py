"""Environment access for every settings module.

The hub reads its configuration from the environment only (twelve-factor), through one
`environ.Env` instance so that parsing rules (booleans, URLs, lists) are the same everywhere.
A `.env` file at the repository root is read when present, for local convenience.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

_dotenv = BASE_DIR / ".env"
if _dotenv.is_file():
    environ.Env.read_env(str(_dotenv), overwrite=False)
