"""A pymongo-like view of the test's database (`runner.mongo_client[db][collection]`, the
`db` a post-load callback receives), over the runner's mongo interface. Every database
name reaches the test's own database (config.yaml `mongodb.database`)."""

from typing import Any, Iterator, List, Optional

import prometheus_step as _native


class InsertOneResult:
    def __init__(self, inserted_id: Any):
        self.inserted_id = inserted_id
        self.acknowledged = True


class InsertManyResult:
    def __init__(self, inserted_ids: List[Any]):
        self.inserted_ids = inserted_ids
        self.acknowledged = True


class UpdateResult:
    def __init__(self, result: Any):
        self.matched_count, self.modified_count, self.upserted_id = result
        self.acknowledged = True


class DeleteResult:
    def __init__(self, deleted_count: int):
        self.deleted_count = deleted_count
        self.acknowledged = True


class Collection:
    """pymongo's `Collection`: find (a list you can iterate), find_one, insert_*,
    update_*, replace_one, delete_*, count_documents, aggregate."""

    def __init__(self, name: str):
        self.name = name
        self._c = _native.collection(name)

    def find(self, filter: Any = None, projection: Any = None, sort: Any = None,
             limit: int = 0, skip: int = 0) -> List[Any]:
        if isinstance(sort, list):  # pymongo spells a sort as [(key, direction)]
            sort = dict(sort)
        return self._c.find(filter, sort=sort, limit=limit or None, skip=skip or None, projection=projection)

    def find_one(self, filter: Any = None, projection: Any = None, sort: Any = None) -> Optional[Any]:
        if isinstance(sort, list):
            sort = dict(sort)
        return self._c.find_one(filter, sort=sort, projection=projection)

    def insert_one(self, document: Any) -> InsertOneResult:
        return InsertOneResult(self._c.insert_one(document))

    def insert_many(self, documents: List[Any]) -> InsertManyResult:
        return InsertManyResult(self._c.insert_many(list(documents)))

    def update_one(self, filter: Any, update: Any, upsert: bool = False) -> UpdateResult:
        return UpdateResult(self._c.update_one(filter, update, upsert))

    def update_many(self, filter: Any, update: Any, upsert: bool = False) -> UpdateResult:
        return UpdateResult(self._c.update_many(filter, update, upsert))

    def replace_one(self, filter: Any, replacement: Any, upsert: bool = False) -> UpdateResult:
        return UpdateResult(self._c.replace_one(filter, replacement, upsert))

    def delete_one(self, filter: Any = None) -> DeleteResult:
        return DeleteResult(self._c.delete_one(filter))

    def delete_many(self, filter: Any = None) -> DeleteResult:
        return DeleteResult(self._c.delete_many(filter))

    def count_documents(self, filter: Any = None) -> int:
        return self._c.count_documents(filter)

    def aggregate(self, pipeline: List[Any]) -> Iterator[Any]:
        return iter(self._c.aggregate(pipeline))


class Database:
    """pymongo's `Database`: `db["todos"]` or `db.todos`."""

    def __getitem__(self, name: str) -> Collection:
        return Collection(name)

    def __getattr__(self, name: str) -> Collection:
        if name.startswith("_"):
            raise AttributeError(name)
        return Collection(name)

    def get_collection(self, name: str) -> Collection:
        return Collection(name)


class MongoClient:
    """pymongo's `MongoClient`: every database name is the test's database."""

    def __getitem__(self, name: str) -> Database:
        return Database()

    def get_database(self, name: Optional[str] = None) -> Database:
        return Database()
