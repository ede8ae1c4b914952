-- When each certificate first authenticated a request (a token request or a
-- renewal) since it was issued: the evidence clone detection uses to tell a
-- lost renewal response (the successor never used) from two holders of one
-- lineage (the successor in use). NULL: not seen yet.
ALTER TABLE certificates ADD COLUMN first_used_at INTEGER;
