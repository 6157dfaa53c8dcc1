"""The ChArUco board the user printed, from `--board 7x5 --square 0.05 --marker 0.037
--dictionary DICT_5X5_100`.

Board frame (OpenCV's): origin at the top-left outer corner of the printed board, x along the
top edge, y down the board, z into the board (away from a camera that sees its face).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_DICTIONARY = 'DICT_5X5_100'


class BoardError(ValueError):
    """The board flags are inconsistent (sizes, square count, dictionary)."""


def dictionary_names() -> list[str]:
    """OpenCV's predefined ArUco dictionaries (DICT_4X4_50, ..., DICT_APRILTAG_36h11)."""
    return sorted(name for name in dir(cv2.aruco) if name.startswith('DICT_'))


@dataclass(frozen=True)
class BoardSpec:
    """squares_x across x, squares_y down; sizes in metres."""

    squares_x: int
    squares_y: int
    square_m: float
    marker_m: float
    dictionary: str = DEFAULT_DICTIONARY

    def __post_init__(self) -> None:
        if self.squares_x < 3 or self.squares_y < 3:
            raise BoardError(f'a ChArUco board needs at least 3x3 squares, got '
                             f'{self.squares_x}x{self.squares_y}')
        if not 0.0 < self.marker_m < self.square_m:
            raise BoardError(f'the marker ({self.marker_m} m) must be smaller than the square '
                             f'({self.square_m} m); both in metres')
        if self.square_m > 1.0:
            raise BoardError(f'square size {self.square_m} is over 1 m: sizes are in metres '
                             f'(0.05 for 5 cm)')
        if self.dictionary not in dictionary_names():
            raise BoardError(f'unknown ArUco dictionary {self.dictionary!r}; one of '
                             f'{", ".join(dictionary_names())}')
        markers = self.squares_x * self.squares_y // 2
        available = len(self.aruco_dictionary().bytesList)
        if markers > available:
            raise BoardError(f'{self.squares_x}x{self.squares_y} squares need {markers} markers, '
                             f'{self.dictionary} has {available}: use a larger dictionary')

    @classmethod
    def parse(cls, board: str, square: float, marker: float,
              dictionary: str = DEFAULT_DICTIONARY) -> BoardSpec:
        """From the flags: board '7x5' (squares across x down)."""
        try:
            across, down = (int(part) for part in board.lower().split('x'))
        except ValueError as error:
            raise BoardError(f'--board must be COLUMNSxROWS such as 7x5, got {board!r}') from error
        return cls(across, down, float(square), float(marker), dictionary)

    def aruco_dictionary(self) -> cv2.aruco.Dictionary:
        return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))

    def charuco_board(self) -> cv2.aruco.CharucoBoard:
        return cv2.aruco.CharucoBoard((self.squares_x, self.squares_y), self.square_m,
                                      self.marker_m, self.aruco_dictionary())

    @property
    def size_m(self) -> tuple[float, float]:
        """Width (x) and height (y) of the chequered area in metres."""
        return self.squares_x * self.square_m, self.squares_y * self.square_m

    @property
    def corner_count(self) -> int:
        return (self.squares_x - 1) * (self.squares_y - 1)

    def corner_points(self) -> np.ndarray:
        """(corner_count, 3) inner chessboard corners in the board frame, by ChArUco id."""
        return np.asarray(self.charuco_board().getChessboardCorners(), dtype=np.float64)

    def describe(self) -> str:
        return (f'{self.squares_x}x{self.squares_y} squares of {self.square_m * 1000:g} mm, '
                f'markers {self.marker_m * 1000:g} mm, {self.dictionary}')

    def image(self, pixels_per_metre: float) -> np.ndarray:
        """The board as a uint8 grey image, the chequered area filling it (no margin); pixel i
        covers board x in [i, i + 1) / pixels_per_metre."""
        width, height = (round(side * pixels_per_metre) for side in self.size_m)
        return self.charuco_board().generateImage((width, height), marginSize=0, borderBits=1)
