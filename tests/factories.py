import factory
from allauth.account.models import EmailAddress

from members.models import Member, Shop, StaffMember, User
from members.roles import Role

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Faker("first_name")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        if create:
            EmailAddress.objects.create(user=self, email=self.email, primary=True, verified=True)


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    name = factory.Sequence(lambda n: f"Café {n}")
    slug = factory.Sequence(lambda n: f"cafe-{n}")
    currency = "TWD"
    time_zone = "Asia/Taipei"
    language = "en"


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMember

    shop = factory.SubFactory(ShopFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.STAFF


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    shop = factory.SubFactory(ShopFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"member{n}@example.com")
