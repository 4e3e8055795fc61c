"""``python -m registry_ops``: the same entry point as the ``registry-ops`` script."""

from registry_ops.cli import main

if __name__ == "__main__":
    main()
