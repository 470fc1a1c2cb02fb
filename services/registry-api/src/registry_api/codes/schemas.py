from pydantic import BaseModel, Field


class CodeRead(BaseModel):
    """One code with its labels."""

    code: str = Field(description="The value to send and to expect in payloads (UPPER_SNAKE; tiers lower-case).")
    label_id: str = Field(description="The label in Indonesian, as the official Kampung KB site shows it.")
    label_en: str = Field(description="The label in English.")


class CodeListRead(BaseModel):
    """A code list: its name, its title in both languages and its codes in display order."""

    name: str = Field(description="The list's name in `GET /v1/codes/{list}`.", examples=["contraception"])
    title_id: str = Field(description="The list's title in Indonesian.")
    title_en: str = Field(description="The list's title in English.")
    codes: list[CodeRead] = Field(description="Every code of the list, in display order.")


class CodeListsRead(BaseModel):
    """Every code list."""

    lists: list[CodeListRead] = Field(description="Every code list, in the order of the official master lists.")
