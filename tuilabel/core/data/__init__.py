"""Where records come from: the manifest index, sources, S3, folder scans and the S3 mirror."""
