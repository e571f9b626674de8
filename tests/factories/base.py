"""What every hub factory shares: writing `auto_now_add` columns a test wants in the past."""

from typing import Any, ClassVar, TypeVar

from django.db.models import Model
from factory.django import DjangoModelFactory

T = TypeVar("T", bound=Model)


class HubModelFactory(DjangoModelFactory[T]):
    """A model factory that can backdate `auto_now_add` columns.

    Django overwrites an `auto_now_add` field on insert, so a value passed for one of
    `_backdatable` is written with an UPDATE right after the row is created (as a test of
    retention or of an expired window needs), and the instance is read back.
    """

    _backdatable: ClassVar[tuple[str, ...]] = ()

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: type[T], *args: Any, **kwargs: Any) -> T:
        later = {name: kwargs.pop(name) for name in cls._backdatable if name in kwargs}
        created = super()._create(model_class, *args, **kwargs)
        if later:
            model_class._default_manager.filter(pk=created.pk).update(**later)
            created.refresh_from_db()
        return created
