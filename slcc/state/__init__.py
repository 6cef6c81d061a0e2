"""The state directory (.slcc/): atomic writes, run folders, manifests, the build lock."""
