"""exaslct import: read exaslct flavors, plan a native slcc repository."""
