-- The period an appeal belongs to (to find it by id alone).
-- Bound parameters: {appeal_id:String}.
SELECT period FROM appeals WHERE appeal_id = {appeal_id:String} LIMIT 1
