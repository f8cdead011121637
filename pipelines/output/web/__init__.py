"""The web view: read, search and judge matches in a browser, and answer the digest from the mail.

`app.py` builds the ASGI app; each page module (`pages`, `archive`, `explain`, `api`, `answer`)
holds its routes; `security.py` the guard; `serve.py` runs it under uvicorn. Imported lazily:
the CLI loads none of Starlette until `newswatch web` (or `run` with [web]) starts.
"""
