from django.db import models


class RegisteredIdentity(models.Model):
    """One person of the built-in KYC data source (comparison_type=1).

    Nothing is kept in clear: the ID number and the name as keyed digests (lookups compare
    digests), the photo Fernet-encrypted (apps.core.crypto, FIELD_ENCRYPTION_KEY). The last
    four characters of the number are kept to tell entries apart in the admin.
    """

    id_number_digest = models.CharField(max_length=64, unique=True, editable=False)
    id_number_tail = models.CharField(max_length=4, editable=False)
    name_digest = models.CharField(max_length=64, editable=False)
    photo_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    photo_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "registered identity"
        verbose_name_plural = "registered identities"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ID ****{self.id_number_tail}"

    @property
    def has_photo(self) -> bool:
        return bool(self.photo_encrypted)
