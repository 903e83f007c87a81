{"pos":42,"version":1,"written":"2026-12-08T01:17:51.392809Z"}
